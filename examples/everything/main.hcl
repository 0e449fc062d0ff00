# Every feature of the Stride language in one configuration. It validates and
# plans anywhere; most of it also runs on the embedded default (stride dev), except
# /everything/legacy/cassandra, whose Docker container needs a Docker engine.
#
#   stride validate examples/everything
#   stride plan -state testdata/state/empty.json examples/everything

# This configuration owns /everything and the apps under it; apps elsewhere are
# never touched by it.
stride {
  scope = "/everything"
}

variable "tag" {
  type        = string
  default     = "1.4.2"
  description = "Release of the API to deploy (-var tag=1.5.0 or STRIDE_VAR_tag=1.5.0)."
}

variable "replicas" {
  type    = map(number)
  default = { api = 3, worker = 2 }
}

variable "regions" {
  type    = list(string)
  default = ["eu-1", "us-1"]
}

variable "debug" {
  type    = bool
  default = false
}

variable "db_password_secret" {
  type      = string
  default   = "/db/password"
  sensitive = true
}

locals {
  common_env = {
    LOG_LEVEL = var.debug ? "debug" : "info"
    REGIONS   = join(",", var.regions)
  }
  artifact = format("https://artifacts.example.com/api-%s.tgz", var.tag)
  team     = upper("payments")
}

group "everything" {
  labels = { owner = "platform" }

  group "data" {
    app "db" {
      cmd       = "exec python3 -m http.server --bind 0.0.0.0 $PORT_DB"
      instances = 1
      cpus      = 0.5
      mem       = 256
      disk      = 100
      user      = "nobody"

      port "db" {
        number   = 0
        protocol = "tcp"
        labels   = { vip = "db:5432" }
      }

      health_check {
        protocol  = "MESOS_TCP" # run by Mesos on the agent
        port_name = "db"
      }

      task_kill_grace_period_seconds = 10
      kill_selection                 = "OLDEST_FIRST"
    }
  }

  group "shop" {
    depends_on = ["/everything/data"] # every app in /everything/shop waits for /everything/data

    app "api" {
      cmd       = "exec ./api --listen :$PORT0 --admin :$PORT_ADMIN"
      instances = var.replicas["api"]
      cpus      = 0.25
      mem       = 128
      gpus      = 0
      env       = merge(local.common_env, { DB = "db-data-everything.service.consul" })
      labels    = { team = local.team, tier = "backend" }

      fetch {
        uri     = local.artifact
        extract = true
        cache   = true
      }
      fetch {
        uri        = "https://artifacts.example.com/tools/healthcheck"
        executable = true
        dest_path  = "bin/healthcheck"
      }

      port "http" {}
      port "admin" {
        protocol = "tcp"
      }
      require_ports = false

      constraint {
        attribute = "hostname"
        operator  = "UNIQUE"
      }
      constraint {
        attribute = "rack_id"
        operator  = "GROUP_BY"
        value     = "2"
      }
      constraints = [
        ["hostname", "LIKE", "127\\.0\\.0\\.[0-9]+"],
        ["rack_id", "MAX_PER", "2"],
      ]
      accepted_resource_roles = ["*"]

      health_check {
        protocol                 = "HTTP"
        port_name                = "http"
        path                     = "/health"
        grace_period_seconds     = 30
        interval_seconds         = 10
        timeout_seconds          = 5
        max_consecutive_failures = 3
        ignore_http1xx           = true
      }
      health_check {
        protocol = "COMMAND" # run by Mesos next to the task
        command  = "bin/healthcheck --port $PORT_ADMIN"
      }

      readiness_check {
        name                        = "warm"
        protocol                    = "HTTP"
        path                        = "/ready"
        port_name                   = "http"
        interval_seconds            = 5
        timeout_seconds             = 2
        http_status_codes_for_ready = [200, 204]
        preserve_last_response      = true
      }

      upgrade_strategy {
        minimum_health_capacity = 0.5
        maximum_over_capacity   = 0.2
      }

      backoff {
        backoff_seconds          = 1
        backoff_factor           = 1.15
        max_launch_delay_seconds = 300
      }

      unreachable_strategy {
        inactive_after_seconds = 60
        expunge_after_seconds  = 600
      }

      service {
        name = "api"
        tags = ["v1", "http"]
        port = "http"
      }
    }

    app "worker" {
      args       = ["/usr/bin/env", "sh", "-c", "while true; do sleep 10; done"]
      instances  = var.replicas["worker"]
      cpus       = 0.1
      mem        = 32
      depends_on = ["api", "../data/db"] # /everything/shop/api and /everything/data/db
      uris       = ["https://artifacts.example.com/worker.tar.gz"]
      ports      = []

      constraints = [["rack_id", "CLUSTER", "rack-1"]]

      unreachable_strategy {
        disabled = true
      }
    }
  }

  group "legacy" {
    app "cassandra" {
      instances = 3
      cpus      = 1
      mem       = 1024
      role      = "*"
      env       = { CLUSTER_NAME = "prod" }

      constraint {
        attribute = "rack_id"
        operator  = "IS"
        value     = "rack-2"
      }

      container {
        type = "DOCKER"
        docker {
          image            = "mesosphere/cassandra:2.0.6"
          network          = "BRIDGE"
          privileged       = false
          force_pull_image = true
          parameters       = { "log-driver" = "json-file" }

          port_mapping {
            container_port = 9042
            host_port      = 0
            protocol       = "tcp"
            name           = "cql"
          }
        }
        volume {
          container_path = "/var/lib/cassandra"
          host_path      = "/mnt/cassandra"
          mode           = "RW"
        }
      }
    }
  }
}
