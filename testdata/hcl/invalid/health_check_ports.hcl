app "api" {
  cmd = "exec ./api"

  port "http" {}

  health_check {
    protocol   = "HTTP"
    port_index = 2
  }

  health_check {
    protocol  = "TCP"
    port_name = "admin"
  }

  health_check {
    protocol   = "HTTP"
    port_index = 0
    port_name  = "http"
  }
}

app "worker" {
  cmd   = "exec ./worker"
  ports = []

  health_check {
    protocol = "HTTP"
  }
}
