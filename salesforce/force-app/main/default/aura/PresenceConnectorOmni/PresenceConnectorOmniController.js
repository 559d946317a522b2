({
    // The softphone asks: set a ServicePresenceStatus, or log out of Omni-Channel.
    onMessage: function (component, message) {
        var action = message.getParam("action");
        if (!action) {
            return; // our own reports (they carry "event") come back on the same channel
        }
        var omni = component.find("omniToolkit");
        var done = function () { component.set("v.lastError", ""); };
        var failed = function (error) {
            component.set("v.lastError", "Omni-Channel " + action + " failed: " + (error && error.message || error));
        };
        if (action === "set_status") {
            var statusId = message.getParam("service_presence_status_id");
            if (!statusId) {
                failed("no status id");
                return;
            }
            omni.setServicePresenceStatus({ statusId: statusId }).then(done).catch(failed);
        } else if (action === "logout") {
            omni.logout().then(done).catch(failed);
        }
    },

    // Omni-Channel changed (in the console, or because we asked): report it to the softphone.
    onStatusChanged: function (component, event) {
        component.find("presenceChannel").publish({
            event: "omniChannelStatusChanged",
            service_presence_status_id: event.getParam("statusId"),
            developer_name: event.getParam("statusApiName")
        });
    },

    onLogout: function (component) {
        component.find("presenceChannel").publish({ event: "omniChannelLogout" });
    }
})
