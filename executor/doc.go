// Package executor is Stride's long-running side: it carries out plans as
// deployments through Mesos resource offers and keeps the resulting tasks alive
// (health checks, exponential backoff, reconciliation).
package executor
