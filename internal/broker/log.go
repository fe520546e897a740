package broker

import (
	"fmt"
	"log/slog"
)

// natsLogger routes nats-server's log to slog: warnings at Warn, errors and
// fatal errors at Error, and its many start-up notices, debug and trace
// lines at Debug (the broker logs its own summary at Info). A fatal
// error (the server could not start) is also reported on fatal.
type natsLogger struct {
	l     *slog.Logger
	fatal chan<- string
}

func (n *natsLogger) Noticef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Warnf(format string, v ...any)   { n.l.Warn(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Errorf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Debugf(format string, v ...any)  { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Tracef(format string, v ...any)  { n.l.Debug(fmt.Sprintf(format, v...)) }

func (n *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	n.l.Error(msg)
	select {
	case n.fatal <- msg:
	default:
	}
}
