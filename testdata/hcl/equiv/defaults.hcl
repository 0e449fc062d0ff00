# Blocks with nothing in them take Marathon's defaults: the health check gets
# portIndex 0, the readiness check its defaults (port "http-api").
app "api" {
  cmd = "exec ./api"

  port "http-api" {}

  health_check {}

  readiness_check {}

  upgrade_strategy {}

  backoff {}

  unreachable_strategy {}

  service {}
}

# Explicit values equal to the defaults say the same as nothing.
app "explicit" {
  cmd             = "exec ./api"
  instances       = 1
  cpus            = 1
  mem             = 128
  disk            = 0
  gpus            = 0
  require_ports   = false
  kill_selection  = "YOUNGEST_FIRST"
  env             = {}
  labels          = {}
  user            = null
}

app "no-ports" {
  cmd   = "exec ./batch"
  ports = []

  health_check {
    protocol = "COMMAND"
    command  = "true"
  }
}
