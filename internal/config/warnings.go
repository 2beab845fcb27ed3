package config

// Warnings returns what is valid in c but unsafe, one sentence each, for
// the program to log at start: today, a dashboard opened to other machines
// without authentication by web_insecure_no_auth.
func (c Config) Warnings() []string {
	var w []string
	if c.WebInsecureNoAuth && !IsLoopback(c.WebHost) && c.WebToken == "" && c.WebUser == "" {
		w = append(w, "web_insecure_no_auth is true: the dashboard and API on "+displayPath(c.WebHost)+
			" are open without authentication to anyone who can reach the port, and can read every message and change targets; set web_token or web_user and web_password")
	}
	return w
}

// Deprecations returns, one sentence each, the keys set in c that are
// still accepted but do nothing, for the program to log at start in every
// mode.
func (c Config) Deprecations() []string {
	var d []string
	if c.BatchLatency != 0 {
		d = append(d, "batch_latency is deprecated and has no effect (a batch is written as soon as the database writer is free); remove it from the configuration")
	}
	return d
}
