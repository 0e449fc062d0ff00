# The smallest Stride configuration: one app, two instances.
#
#   stride dev examples/hello-world
#
# Each instance prints where it runs every few seconds; its output is in the task
# sandbox (stride tasks shows where).

app "hello" {
  cmd       = "while true; do echo \"hello from $HOST:$PORT0 ($MESOS_TASK_ID)\"; sleep 5; done"
  instances = 2
  cpus      = 0.1
  mem       = 32
}
