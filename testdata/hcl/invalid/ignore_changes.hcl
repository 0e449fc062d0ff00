app "web" {
  cmd       = "serve"
  instances = 3

  lifecycle {
    ignore_changes = ["instancs", id, 42, instances]
  }
}

app "api" {
  cmd = "serve"

  lifecycle {
    ignore_changes = "instances"
  }
}
