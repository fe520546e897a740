package cli

import "os"

func isNotRoot() bool { return os.Geteuid() != 0 }
