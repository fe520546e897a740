package action

// Placeholder constructors, replaced by the real actions.

func newPF(env *Env) Action                  { return nil }
func newIPFW(env *Env) Action                { return nil }
func newNPF(env *Env) Action                 { return nil }
func newNetsh(env *Env) Action               { return nil }
func newRouteNullWindows(env *Env) Action    { return nil }
func newRestartWazuhWindows(env *Env) Action { return nil }
