// Package localmesos is a single-machine stand-in for an Apache Mesos master
// and its agents: the smallest honest cluster that lets Stride's production
// Mesos driver (or any other v1 scheduler, e.g. one built on mesos-go's
// httpsched) run real tasks on a laptop or in a test.
//
// It speaks the Mesos v1 scheduler HTTP API on loopback: POST /api/v1/scheduler
// with JSON or protobuf bodies, a RecordIO event stream for SUBSCRIBE
// (Mesos-Stream-Id checked on every other call), offers every OfferInterval,
// decline/accept filters, SUPPRESS/REVIVE, RESCIND, reliable status updates
// (retried until acknowledged, one at a time per task), KILL with kill
// policies, explicit and implicit RECONCILE, framework failover with
// failover_timeout, and the operator endpoints GET /master/state, /health,
// /version and /master/redirect. Messages are mesos-go's generated types; the
// framing is mesos-go's recordio writer.
//
// The agents are simulated: agent i has the id "<prefix>-S<i>" (the prefix is
// the id of the master that created the WorkDir, kept while the agent layout
// stays the same), the
// loopback address 127.0.0.(i+2) as hostname, a rack_id attribute, and its own
// slice of cpus, mem, disk and ports. Tasks run as real local processes in
// their own process group, in a sandbox directory under
// WorkDir/agents/<agent>/frameworks/<framework>/tasks/<task>/ with stdout and
// stderr files, after their URIs are fetched (and extracted) there. The agent
// runs MESOS_HTTP, MESOS_TCP and COMMAND health checks itself, as the Mesos
// command executor does.
//
// Where the behaviour of a real master is the question, the answer is what a
// real Apache Mesos 1.11.1 master and agent do: the conformance suite
// (conformance_test.go) holds the same scheduler conversations with both and
// compares them with traces recorded from the real one (testdata/conformance).
// Tasks get the environment a Mesos agent gives a command task (MESOS_SANDBOX,
// MESOS_FRAMEWORK_ID, LIBPROCESS_IP, ...; not HOST, PORT* or MESOS_TASK_ID,
// which are the framework's to set), network health checks go to 127.0.0.1
// as Mesos' do for host-network tasks, and an agent can be cut off and healed
// (PartitionAgent, HealAgent) as a real agent that stops answering and comes
// back. The places where the stand-in knowingly differs are:
//
//   - Custom executors, LAUNCH_GROUP and offer operations other than LAUNCH
//     are refused (TASK_ERROR for launches, logged and ignored otherwise).
//   - DOCKER containers are refused with TASK_FAILED unless a Docker engine
//     answers on /var/run/docker.sock, and even then the stand-in does not
//     run them (the message says so).
//   - Status updates are retried every Config.UpdateRetry instead of with an
//     exponential backoff; master-generated updates (invalid offers, invalid
//     tasks, lost agents, reconciliation) carry no uuid, as in Mesos.
//   - There is one allocator pass per OfferInterval, frameworks served in id
//     order (no DRF), one outstanding offer per agent, framework and role.
//   - An agent is only ever lost or cut off on purpose: Master.LoseAgent
//     (for good: its processes are killed), PartitionAgent and HealAgent, or
//     POST /stride/agents/<agent-id>/{lose,partition,heal}. A real master
//     declares a silent agent unreachable only after its ping timeouts; the
//     stand-in does at once.
//   - Offers name an agent URL (the agent's address, the master's port,
//     path /slave(1)) where nothing serves the agent API.
//   - QUOTA_V2, a capability of the master that mesos-go does not name, is
//     sent as its number on protobuf streams and as UNKNOWN in JSON (what
//     mesos-go decodes of a real master's JSON).
//
// A Master that closes kills every task: nothing is left behind. One that
// crashes (SIGKILL, OOM, a power cut) leaves its tasks' checkpoints in the
// WorkDir, and the next Master on it recovers them as a restarted Mesos agent
// recovers its executors after a master failover: a task whose process still
// runs (same pid and start time, same boot) is adopted — RUNNING on the same
// agent id, with the same pid, in a disconnected framework that gets it back
// by re-subscribing with its framework id within its failover_timeout, and
// whose tasks are killed when it does not; reconciliation answers TASK_RUNNING
// for it. A task whose process ended while no Master watched is reported
// TASK_FAILED (its exit status is unknowable, and the message says so), as is
// the later exit of an adopted process, which is not the Master's child.
// Process groups of tasks that cannot be recovered are killed, never a process
// that merely reuses a recorded pid. See recover.go for the files involved.
//
// Everything the stand-in writes in the WorkDir is private to its user
// (directories 0700, files 0600), and finished sandboxes are collected: the
// newest Config.SandboxesKept per framework and app are kept.
package localmesos
