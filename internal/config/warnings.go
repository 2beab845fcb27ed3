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
