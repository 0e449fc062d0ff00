# Every HCL attribute and block, against the Marathon JSON that says the same.
variable "tag" {
  type    = string
  default = "1.4.2"
}

locals {
  common_env = { LOG_LEVEL = "info" }
}

group "shop" {
  app "api" {
    cmd                     = "exec ./api --listen :$PORT0"
    user                    = "nobody"
    instances               = 3
    cpus                    = 0.25
    mem                     = 128.5
    disk                    = 64
    gpus                    = 1
    env                     = merge(local.common_env, { DB = "db-shop.service.consul" })
    labels                  = { team = "payments", tier = "web" }
    require_ports           = true
    accepted_resource_roles = ["*", "slave_public"]
    role                    = "prod"
    kill_selection          = "OLDEST_FIRST"

    task_kill_grace_period_seconds = 30

    fetch {
      uri = "https://artifacts.example.com/api-${var.tag}.tgz"
    }
    fetch {
      uri        = "https://artifacts.example.com/config.json"
      extract    = false
      executable = true
      cache      = true
      dest_path  = "conf/config.json"
    }

    port "http" {
      number = 8080
    }
    port "admin" {
      number   = 8081
      protocol = "udp,tcp"
      labels   = { vip = "192.168.0.1:80" }
    }

    constraint {
      attribute = "hostname"
      operator  = "UNIQUE"
    }

    health_check {
      protocol                 = "HTTP"
      port_index               = 0
      path                     = "/health"
      grace_period_seconds     = 10
      interval_seconds         = 20
      timeout_seconds          = 5
      max_consecutive_failures = 3
      ignore_http1xx           = true
      delay_seconds            = 1
    }
    health_check {
      protocol  = "MESOS_TCP"
      port_name = "admin"
    }
    health_check {
      protocol = "TCP"
      port     = 9000
    }

    readiness_check {
      name                        = "ready"
      protocol                    = "HTTPS"
      path                        = "/ready"
      port_name                   = "http"
      interval_seconds            = 15
      timeout_seconds             = 5
      http_status_codes_for_ready = [200, 204]
      preserve_last_response      = true
    }

    upgrade_strategy {
      minimum_health_capacity = 0.5
      maximum_over_capacity   = 0.2
    }

    backoff {
      backoff_seconds          = 2
      backoff_factor           = 1.5
      max_launch_delay_seconds = 600
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

    lifecycle {
      ignore_changes = [instances, "health_check", backoff]
    }
  }

  app "worker" {
    args = ["./worker", "--queue", "orders"]
  }
}
