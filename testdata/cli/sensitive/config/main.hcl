# A database password given as a sensitive variable (STRIDE_VAR_db_password in
# the cases' args): every value derived from it is shown as (sensitive value).
variable "db_password" {
  type      = string
  sensitive = true
}

variable "image_tag" {
  default = "1.4.2"
}

locals {
  dsn = "postgres://api:${var.db_password}@db.internal/shop"
}

group "shop" {
  app "api" {
    cmd       = "exec ./api --listen :$PORT0 --db-password '${var.db_password}' --tag ${var.image_tag}"
    instances = 2
    env = {
      DB_PASSWORD = var.db_password
      DB_URL      = local.dsn
      LOG_LEVEL   = "info"
      API_TOKEN   = { secret = "token" }
    }
    labels = {
      "com.example/db-password-hash" = upper(var.db_password)
      team                           = "payments"
    }
    port "http" { number = 0 }
    health_check {
      protocol = "HTTP"
      path     = "/health?token=${var.db_password}"
    }
    secret "token" { source = "/vault/shop/token" }
  }

  # Deployed with another password: the change shows, the values do not.
  app "worker" {
    cmd       = "exec ./worker"
    instances = 1
    env       = { DB_PASSWORD = var.db_password, QUEUE = "orders" }
    labels    = { owner = "payments" }

    lifecycle {
      ignore_changes = [labels]
    }
  }
}
