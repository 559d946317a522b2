({
    start: function (component) {
        if (component._bridge || !window.PresenceConnectorBridge) {
            return;
        }
        var channel = component.find("presenceChannel");
        component._bridge = window.PresenceConnectorBridge.create({
            toolkit: component.find("omniToolkit"),
            // every timer, promise handler and stream read of the bridge runs inside Aura's context
            wrap: $A.getCallback,
            fetchToken: function () {
                return new Promise(function (resolve, reject) {
                    var action = component.get("c.streamToken");
                    action.setCallback(this, $A.getCallback(function (response) {
                        if (response.getState() === "SUCCESS") {
                            resolve(JSON.parse(response.getReturnValue()));
                        } else {
                            var errors = response.getError() || [];
                            reject(new Error((errors[0] && errors[0].message) || "the Apex controller failed"));
                        }
                    }));
                    $A.enqueueAction(action);
                });
            },
            // without a token (Named Credential not set up) reports go to the Open CTI softphone, if installed
            relay: $A.getCallback(function (message) { channel.publish(message); }),
            onState: $A.getCallback(function (text, isError) {
                if (component.isValid()) {
                    component.set("v.lastError", isError ? text : "");
                }
            })
        });
        component._bridge.start();
        (component._waiting || []).forEach(function (run) { run(component._bridge); });
        component._waiting = null;
    },

    // run with the bridge, or once the script has loaded (events may arrive before it)
    bridge: function (component, run) {
        if (component._bridge) {
            run(component._bridge);
        } else {
            component._waiting = (component._waiting || []).concat([run]);
        }
    }
})
