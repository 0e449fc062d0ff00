# The example of LANGUAGE.md, with its one-line multi-attribute blocks (which HCL
# does not allow) written out over several lines.
# It also declares /infra, which /shop depends on: with the default scope "/", a
# dependency must name something the files declare.
variable "tag" {
  type    = string
  default = "1.4.2"
}

locals {
  common_env = { LOG_LEVEL = "info" }
}

group "shop" {                       # namespace: /shop
  depends_on = ["/infra"]            # every app in /shop waits for all of /infra

  app "db" {                         # id /shop/db
    cmd       = "exec ./db --port $PORT0"
    instances = 1
    cpus      = 0.5
    mem       = 512
    port "db" {}                     # port 0 = any free port from the offer
  }

  app "api" {                        # id /shop/api
    cmd        = "exec ./api --listen :$PORT0"
    instances  = 3
    cpus       = 0.25
    mem        = 128
    env        = merge(local.common_env, { DB = "db-shop.service.consul" })
    labels     = { team = "payments" }
    depends_on = ["db"]              # relative: /shop/db

    fetch {
      uri     = "https://artifacts.example.com/api-${var.tag}.tgz"
      extract = true
    }
    port "http" { number = 0 }

    constraint {
      attribute = "hostname"
      operator  = "UNIQUE"
    }
    constraint {
      attribute = "rack_id"
      operator  = "GROUP_BY"
      value     = "2"
    }

    health_check {
      protocol                 = "HTTP"
      port_index               = 0       # or port_name = "http"
      path                     = "/health"
      grace_period_seconds     = 10
      interval_seconds         = 20
      timeout_seconds          = 5
      max_consecutive_failures = 3
    }

    upgrade_strategy {
      minimum_health_capacity = 0.5
      maximum_over_capacity   = 0.2
    }

    backoff {
      backoff_seconds          = 1
      backoff_factor           = 1.15
      max_launch_delay_seconds = 300
      give_up_after            = 5    # stop relaunching after 5 failed launches in a row (beyond Marathon)
    }

    deployment {                      # beyond Marathon
      progress_deadline = "5m"        # fail a step that makes no progress for 5 minutes
      auto_revert       = true        # then roll back to the last version that ran fully healthy
    }

    service {                         # Consul registration (beyond Marathon)
      name = "api"                    # default: path segments reversed, joined by "-": api-shop
      tags = ["v1"]
      port = "http"
    }
  }
}

app "cassandra" {                    # top-level app: id /cassandra
  instances = 3
  container {
    type = "DOCKER"
    docker {
      image   = "mesosphere/cassandra:2.0.6"
      network = "HOST"
    }
    volume {
      container_path = "/mnt"
      host_path      = "/mnt"
      mode           = "RW"
    }
  }
  env = { CLUSTER_NAME = "prod" }
}

group "infra" {
  app "cache" {
    cmd = "exec ./cache --port $PORT0"
    mem = 256
  }
}
