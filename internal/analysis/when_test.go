package analysis

import (
	"testing"
	"time"
)

func TestTimeRange(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 1, 5, h, m, 0, 0, time.UTC) }
	tests := []struct {
		spec string
		at   time.Time
		want bool
	}{
		{"6 pm - 8:30 am", at(23, 0), true},
		{"6 pm - 8:30 am", at(8, 29), true},
		{"6 pm - 8:30 am", at(12, 0), false},
		{"9:00 - 17:00", at(12, 0), true},
		{"9:00 - 17:00", at(17, 0), false},
		{"!9:00 - 17:00", at(18, 0), true},
		{"12 pm - 1 pm", at(12, 30), true},
	}
	for _, tt := range tests {
		tr, neg, err := parseTimeRange(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		r := &Rule{hasTime: true, timeRange: tr, timeNeg: neg}
		if got := r.whenOK(tt.at); got != tt.want {
			t.Errorf("%q at %s = %v, want %v", tt.spec, tt.at.Format("15:04"), got, tt.want)
		}
	}
	if _, _, err := parseTimeRange("soon"); err == nil {
		t.Error("no error for an invalid range")
	}
}

func TestWeekdays(t *testing.T) {
	monday := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	sunday := monday.AddDate(0, 0, -1)
	tests := []struct {
		spec string
		at   time.Time
		want bool
	}{
		{"weekdays", monday, true},
		{"weekdays", sunday, false},
		{"weekends", sunday, true},
		{"monday - friday", monday, true},
		{"friday - monday", sunday, true},
		{"sat, sun", monday, false},
		{"!monday", monday, false},
	}
	for _, tt := range tests {
		set, neg, err := parseWeekdays(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		r := &Rule{weekdays: set, weekdayNeg: neg}
		if got := r.whenOK(tt.at); got != tt.want {
			t.Errorf("%q on %s = %v, want %v", tt.spec, tt.at.Weekday(), got, tt.want)
		}
	}
}
