package analysis

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// timeRange is a rule's <time>: minutes of the day from start to end,
// wrapping past midnight when end < start.
type timeRange struct{ start, end int }

// parseTimeRange reads "h[:mm][ am|pm] - h[:mm][ am|pm]"; a leading "!"
// negates it.
func parseTimeRange(s string) (timeRange, bool, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "!")
	s = strings.TrimPrefix(s, "!")
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return timeRange{}, false, fmt.Errorf("invalid time range %q", s)
	}
	start, err := parseClock(a)
	if err != nil {
		return timeRange{}, false, err
	}
	end, err := parseClock(b)
	if err != nil {
		return timeRange{}, false, err
	}
	return timeRange{start, end}, neg, nil
}

func parseClock(s string) (int, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	add := 0
	switch {
	case strings.HasSuffix(s, "pm"):
		add = 12 * 60
		s = strings.TrimSpace(strings.TrimSuffix(s, "pm"))
	case strings.HasSuffix(s, "am"):
		s = strings.TrimSpace(strings.TrimSuffix(s, "am"))
	}
	h, m, _ := strings.Cut(s, ":")
	hh, err := strconv.Atoi(h)
	if err != nil || hh < 0 || hh > 23 {
		return 0, fmt.Errorf("invalid time %q", s)
	}
	mm := 0
	if m != "" {
		if mm, err = strconv.Atoi(m); err != nil || mm < 0 || mm > 59 {
			return 0, fmt.Errorf("invalid time %q", s)
		}
	}
	if hh == 12 && add > 0 {
		add = 0
	}
	return hh*60 + mm + add, nil
}

func (r timeRange) contains(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if r.start <= r.end {
		return m >= r.start && m < r.end
	}
	return m >= r.start || m < r.end
}

var weekdayNames = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// parseWeekdays reads a <weekday>: names, "a - b" ranges, "weekdays",
// "weekends", separated by commas or blanks; a leading "!" negates it.
// The result is a bit set indexed by time.Weekday.
func parseWeekdays(s string) (uint8, bool, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	neg := strings.HasPrefix(s, "!")
	s = strings.TrimPrefix(s, "!")
	var set uint8
	s = strings.ReplaceAll(s, " - ", "-")
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		switch part {
		case "weekdays":
			set |= 0b0111110
			continue
		case "weekends":
			set |= 0b1000001
			continue
		}
		a, b, isRange := strings.Cut(part, "-")
		da, ok := weekdayNames[a]
		if !ok {
			return 0, false, fmt.Errorf("invalid weekday %q", a)
		}
		if !isRange {
			set |= 1 << da
			continue
		}
		db, ok := weekdayNames[b]
		if !ok {
			return 0, false, fmt.Errorf("invalid weekday %q", b)
		}
		for d := da; ; d = (d + 1) % 7 {
			set |= 1 << d
			if d == db {
				break
			}
		}
	}
	return set, neg, nil
}
