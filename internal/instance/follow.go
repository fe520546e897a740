package instance

import (
	"context"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/collect"
)

// followAlerts feeds the alerts of a Wazuh alerts.json file (JSON lines) to
// the engine. A malformed line is logged and counted; it never stops the
// follower. The read offset survives restarts; a file seen for the first time
// is read from its end, so old alerts are not replayed.
func (in *Instance) followAlerts(ctx context.Context, path string, store collect.OffsetStore) error {
	log := in.log.With("component", "alerts.json", "path", path)
	t := collect.NewTailer(path, store, collect.TailerOptions{
		StartAtEnd: true,
		OnError:    func(err error) { in.inputErrors.Add(1); log.Warn("alerts.json", "err", err) },
	})
	log.Info("following alerts file")
	return t.Run(ctx, func(l collect.Line) error {
		a, err := alert.Parse(l.Text)
		if err != nil {
			in.malformed.Add(1)
			log.Warn("malformed alert", "offset", l.Offset, "err", err)
			return nil
		}
		in.Ingest(ctx, []*alert.Alert{a}, api.IngestOptions{Source: "alerts_json"})
		return nil
	})
}
