"""Device simulators speaking each receiver protocol on a real pseudo-terminal or TCP socket."""
