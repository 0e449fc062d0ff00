# Every error is reported at once, across apps and groups.
variable "instances" {
  type    = number
  default = "many"
}

group "Shop" {
  depends_on = ["nothing"]

  app "api" {
    cmd       = "exec ./api"
    instances = "three"
    mem       = var.memory
    colour    = "blue"
  }
}

app "db" {
  cmd = local.db_cmd
}
