/**
 * Omni-Channel presence statuses <-> the connector's presence states.
 *
 * The mapping lives in the connector's presence configuration, the same one the Omni-Channel adapter uses:
 * a state carries `adapters: {omni_channel: <ServicePresenceStatus DeveloperName>}` or
 * `{omni_channel: {developer_name, id}}`. States without it (On a call, Wrap-up...) are never pushed to
 * Omni-Channel: Omni models a call as capacity consumed by work, not as a status.
 * Salesforce identifies statuses by Id when the connector publishes; the Ids come from the mapping itself,
 * or from the `userPresenceStatuses` Salesforce passes to init(): the statuses the user may pick, documented
 * as {statusId, statusName, hasChannels, isOffline} each (keyed by Id, or a list). That payload carries the
 * status's name, not its API name, so a mapping's developer_name (or its `name`, when the label differs) is
 * looked up by name there: case, spaces and underscores aside ("Available_for_Calls" finds "Available for
 * Calls"). A mapped state whose status is not found refuses set-up (see `unresolved`), naming the mapping.
 */

/** (developerName, id) mapped for a connector state; both null when it has no Omni-Channel mapping. */
export function omniTarget(state) {
    const mapped = state?.adapters?.omni_channel;
    if (mapped && typeof mapped === 'object') {
        return { developerName: mapped.developer_name || null, id: mapped.id || null };
    }
    return { developerName: mapped ? String(mapped) : null, id: null };
}

/** A status name as compared: case, spaces and underscores aside. */
export function nameKey(name) {
    return typeof name === 'string' ? name.trim().toLowerCase().replace(/[\s_]+/g, ' ') : '';
}

/** The names a state's mapping may be found by in userPresenceStatuses: its `name`, then its developer name. */
function namesOf(state) {
    const mapped = state?.adapters?.omni_channel;
    const label = mapped && typeof mapped === 'object' ? mapped.name : null;
    return [label, omniTarget(state).developerName].map(nameKey).filter(Boolean);
}

/** Salesforce Ids compare on their first 15 characters (the 18-character form adds a checksum). */
function sameId(a, b) {
    return Boolean(a && b) && a.slice(0, 15) === b.slice(0, 15);
}

export class StatusMap {
    constructor(states = []) {
        this.states = states;
        this.idByApiName = new Map();
        this.nameById = new Map();
        this.idByName = new Map();   // nameKey(statusName) -> Id, from userPresenceStatuses
        this.offered = [];           // the status names Salesforce offered, as given
    }

    /**
     * Learn the user's statuses from the `userPresenceStatuses` Salesforce passes to init() (JSON or parsed):
     * {Id: {statusId, statusName, hasChannels, isOffline}} or a list of those. Returns false when it is not
     * JSON at all.
     */
    learnFromUserPresenceStatuses(raw) {
        let data = raw;
        if (typeof raw === 'string') {
            try {
                data = JSON.parse(raw);
            } catch {
                return false;
            }
        }
        const entries = Array.isArray(data) ? data.map((value) => [value?.statusId, value]) : Object.entries(data || {});
        for (const [key, value] of entries) {
            const statusId = value?.statusId || key;
            this.learn({ statusId, statusApiName: value?.statusApiName || value?.developerName,
                statusName: value?.statusName });
            if (statusId && value?.statusName) {
                this.idByName.set(nameKey(value.statusName), statusId);
                this.offered.push(value.statusName);
            }
        }
        return true;
    }

    /** Remember one status Salesforce told us about (AgentStatusInfo-shaped). */
    learn({ statusId, statusApiName, statusName } = {}) {
        if (statusId && statusApiName) {
            this.idByApiName.set(statusApiName, statusId);
        }
        if (statusId && statusName) {
            this.nameById.set(statusId, statusName);
        }
    }

    /** The Id of the status a state is mapped to: its own, learnt by API name, or found by name; else null. */
    idFor(state) {
        const { developerName, id } = omniTarget(state);
        if (id) {
            return id;
        }
        if (developerName && this.idByApiName.has(developerName)) {
            return this.idByApiName.get(developerName);
        }
        const found = namesOf(state).find((key) => this.idByName.has(key));
        return found ? this.idByName.get(found) : null;
    }

    /** Mapped states whose Omni-Channel status Id is neither in their mapping nor found among the user's statuses. */
    unresolved() {
        return this.states.filter((state) => this.isMapped(state) && !this.idFor(state));
    }

    /** The connector state for an Omni-Channel status, or null when none is mapped to it. */
    stateFor({ statusId, statusApiName, statusName } = {}) {
        return this.states.find((state) => {
            const { developerName } = omniTarget(state);
            return (statusApiName && developerName === statusApiName) || sameId(this.idFor(state), statusId)
                || (!statusId && statusName && namesOf(state).includes(nameKey(statusName)));
        }) || null;
    }

    /** {statusId, statusApiName, statusName} to publish for a connector state, or null when not mapped / unknown Id. */
    statusFor(state) {
        const { developerName } = omniTarget(state);
        const statusId = this.idFor(state);
        if (!statusId) {
            return null;
        }
        return { statusId, statusApiName: developerName || undefined, statusName: this.nameById.get(statusId) };
    }

    /** Whether a state is mapped to Omni-Channel at all (known Id or not). */
    isMapped(state) {
        const { developerName, id } = omniTarget(state);
        return Boolean(developerName || id);
    }
}
