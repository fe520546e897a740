// Package collect reads logs as they are written: files followed line by
// line (rotation, truncation, read offsets that survive restarts, woken by
// inotify with polling as the safety net) and the systemd journal (through
// journalctl, with a cursor that survives restarts). It knows nothing of what
// the lines mean and imports no other Riposte package.
package collect
