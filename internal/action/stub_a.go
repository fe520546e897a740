package action

// Placeholder constructors, replaced by the real actions.

func newFirewallDrop(env *Env) Action { return nil }
