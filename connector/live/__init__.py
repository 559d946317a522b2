"""Live events: the bus that stores each change's events with the change and fans them out to open streams, and the subscribers (a thread's queue or an event loop's) that receive them."""
