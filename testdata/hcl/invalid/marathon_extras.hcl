app "limits" {
  cmd  = "./serve"
  cpus = 2

  resource_limits {
    cpus = 1
    mem  = "lots"
  }

  network {
    mode = "host"
    name = "dcos"
  }

  network {
    mode = true
  }
}

app "tty" {
  cmd = "./serve"
  tty = "sometimes"
}
