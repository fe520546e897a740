package action

// Placeholder constructors, replaced by the real actions.

func newFirewalldDrop(env *Env) Action  { return nil }
func newHostDeny(env *Env) Action       { return nil }
func newDisableAccount(env *Env) Action { return nil }
func newRouteNull(env *Env) Action      { return nil }
func newIPCustomBlock(env *Env) Action  { return nil }
func newRestartWazuh(env *Env) Action   { return nil }
func newWazuhSlack(env *Env) Action     { return nil }
