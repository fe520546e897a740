// Package respond turns alerts into decisions: which <active-response>
// blocks an alert triggers, whether its fields are safe to act on, whether the
// white list suppresses it, where it runs, and whether it repeats a stateless
// response seen moments ago. [Engine.Decide] is pure: it does no I/O and
// starts no goroutines, and every outcome is data with a reason.
//
// It reads the shared vocabulary (alert, config) and knows nothing of how
// decisions are carried out: it never imports execd, fleet or api.
package respond
