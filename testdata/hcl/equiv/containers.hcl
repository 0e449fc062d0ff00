app "cassandra" {
  instances = 3

  container {
    type = "DOCKER"

    docker {
      image            = "mesosphere/cassandra:2.0.6"
      network          = "HOST"
      privileged       = true
      force_pull_image = true
      parameters       = { memory-swap = "1g", cap-add = "NET_ADMIN" }
    }

    volume {
      container_path = "/mnt"
      host_path      = "/mnt"
      mode           = "RW"
    }

    volume {
      container_path = "/etc/conf"
      host_path      = "/srv/conf"
      mode           = "RO"
    }
  }

  env = { CLUSTER_NAME = "prod" }
}

app "nginx" {
  container {
    docker {
      image   = "nginx:1.25"
      network = "BRIDGE"
      parameters = [
        { key = "label", value = "a=1" },
        { key = "label", value = "b=2" },
      ]

      port_mapping {
        container_port = 80
        name           = "http"
      }

      port_mapping {
        container_port = 443
        host_port      = 0
        service_port   = 10443
        protocol       = "tcp"
        name           = "https"
        labels         = { vip = "10.0.0.1:443" }
      }
    }

    volume {
      container_path = "/cache"
    }
  }

  health_check {
    protocol  = "HTTP"
    port_name = "http"
  }
}

app "mesos" {
  cmd = "exec ./run"

  container {
  }
}

app "off" {
  cmd = "exec ./off"

  unreachable_strategy {
    disabled = true
  }
}
