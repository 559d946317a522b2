({
    // the bridge script is loaded: start the connector's stream (stream token from Apex)
    init: function (component, event, helper) {
        helper.start(component);
    },

    // the Open CTI softphone relays a command (set_status / logout) over the message channel
    onMessage: function (component, message, helper) {
        var action = message.getParam("action");
        if (!action) {
            return; // reports (they carry "event") come back on the same channel
        }
        helper.bridge(component, function (bridge) {
            bridge.command({
                action: action,
                command_id: message.getParam("command_id"),
                agent_id: message.getParam("agent_id"),
                service_presence_status_id: message.getParam("service_presence_status_id"),
                developer_name: message.getParam("developer_name")
            });
        });
    },

    // Omni-Channel changed (in the console, or because we asked): report it to the connector
    onStatusChanged: function (component, event, helper) {
        helper.bridge(component, function (bridge) {
            bridge.statusChanged(event.getParam("statusId"), event.getParam("statusApiName"));
        });
    },

    onLogout: function (component, event, helper) {
        helper.bridge(component, function (bridge) { bridge.loggedOut(); });
    },

    onWorkAccepted: function (component, event, helper) {
        helper.bridge(component, function (bridge) {
            bridge.workAccepted(event.getParam("workItemId"), event.getParam("workId"));
        });
    },

    onDestroy: function (component, event, helper) {
        helper.bridge(component, function (bridge) { bridge.stop(); });
    }
})
