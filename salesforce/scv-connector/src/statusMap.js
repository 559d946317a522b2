/**
 * Omni-Channel presence statuses <-> the connector's presence states.
 *
 * The mapping lives in the connector's presence configuration, the same one the Omni-Channel adapter uses:
 * a state carries `adapters: {omni_channel: <ServicePresenceStatus DeveloperName>}` or
 * `{omni_channel: {developer_name, id}}`. States without it (On a call, Wrap-up...) are never pushed to
 * Omni-Channel: Omni models a call as capacity consumed by work, not as a status.
 * Salesforce identifies statuses by Id when the connector publishes; the Ids come from the mapping itself,
 * from the `userPresenceStatuses` Salesforce passes to init(), or from statuses Salesforce sent us.
 */

/** (developerName, id) mapped for a connector state; both null when it has no Omni-Channel mapping. */
export function omniTarget(state) {
    const mapped = state?.adapters?.omni_channel;
    if (mapped && typeof mapped === 'object') {
        return { developerName: mapped.developer_name || null, id: mapped.id || null };
    }
    return { developerName: mapped ? String(mapped) : null, id: null };
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
    }

    /** Learn Ids from the `userPresenceStatuses` JSON Salesforce passes to init(): {Id: {statusApiName, statusName}}. */
    learnFromUserPresenceStatuses(raw) {
        let data = raw;
        if (typeof raw === 'string') {
            try {
                data = JSON.parse(raw);
            } catch {
                return;
            }
        }
        for (const [id, value] of Object.entries(data || {})) {
            const apiName = value?.statusApiName || value?.developerName || value?.apiName;
            this.learn({ statusId: value?.statusId || id, statusApiName: apiName, statusName: value?.statusName });
        }
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

    /** The connector state for an Omni-Channel status, or null when none is mapped to it. */
    stateFor({ statusId, statusApiName } = {}) {
        return this.states.find((state) => {
            const { developerName, id } = omniTarget(state);
            return (statusApiName && developerName === statusApiName) || sameId(id, statusId)
                || (developerName && sameId(this.idByApiName.get(developerName), statusId));
        }) || null;
    }

    /** {statusId, statusApiName, statusName} to publish for a connector state, or null when not mapped / unknown Id. */
    statusFor(state) {
        const { developerName, id } = omniTarget(state);
        const statusId = id || (developerName && this.idByApiName.get(developerName));
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
