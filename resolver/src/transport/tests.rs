//! Listener tests: real DoT/DoH over loopback with a stub handler.
