// Package collect follows log files line by line: rotation, truncation and
// read offsets that survive restarts. It knows nothing of what the lines mean
// and imports no other Riposte package.
package collect
