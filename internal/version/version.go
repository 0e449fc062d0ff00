// Package version holds Stride's version: the one source the CLI (`stride
// version`, saved plans) and the server (/v2/info) report.
package version

// Version is Stride's version. Builds set it with
//
//	go build -ldflags "-X github.com/stride-run/stride/internal/version.Version=1.2.3" ./cmd/stride
//
// (`make build` passes `git describe`); a plain `go build` says 0.1.0-dev.
var Version = "0.1.0-dev"
