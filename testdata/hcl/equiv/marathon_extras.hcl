# Marathon fields HCL gained for `stride import`: executor, tty, networks,
# resource limits and container-level port mappings.
group "extras" {
  app "bridged" {
    cmd       = "./serve"
    executor  = "//cmd"
    tty       = true
    ports     = []

    network {
      mode   = "container/bridge"
      labels = { zone = "a" }
    }

    resource_limits {
      cpus = 2
      mem  = "unlimited"
    }

    container {
      type = "MESOS"

      port_mapping {
        container_port = 8080
        name           = "http"
        labels         = { vip = "web:80" }
      }

      port_mapping {
        container_port = 9090
        host_port      = 0
        service_port   = 10001
        protocol       = "udp"
      }
    }
  }

  app "overlay" {
    cmd = "./serve"

    network {
      mode = "container"
      name = "dcos"
    }
  }
}
