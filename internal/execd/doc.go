// Package execd carries out responses on one host, the way Wazuh's execd
// does and with its failures fixed. For each request it runs the executable
// from the active-response bin directory with Wazuh 4.x's stdin protocol
// (one JSON line with command "add", the check_keys handshake answered with
// continue or abort), keeps the timeout list and runs the "delete" when a
// stateful response expires, and applies repeated-offender ladders.
//
// Unlike Wazuh's execd it limits the handshake and every run in time and
// kills an overdue script with its process group; runs different keys
// concurrently and the same key one at a time; uses monotonic timers; never
// lets a re-trigger shorten an active block; records every run's exit status,
// duration and stderr tail; and persists timers and repeat counts so that a
// restart, even after kill -9, re-arms pending deletes at their original
// deadline. A clean stop does not lift blocks.
//
// execd reads respond's decisions (through [Request]) and never imports a
// later stage (fleet, api). Lock order: Execd.mu is never held while waiting
// for a key lock.
package execd
