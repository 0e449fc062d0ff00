app "api" {
  cmd            = "exec ./api"
  kill_selection = "NEWEST_FIRST"

  port "http" {
    protocol = "sctp"
  }

  health_check {
    protocol = "GRPC"
  }
}

app "box" {
  container {
    type = "RKT"

    docker {
      image   = "nginx:1.25"
      network = "OVERLAY"
    }

    volume {
      container_path = "/data"
      mode           = "RWX"
    }
  }
}
