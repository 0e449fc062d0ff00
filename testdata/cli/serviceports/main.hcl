# Ports left at 0: the server assigned them at apply (see state.json), and a
# plan against that state has nothing to do.
app "api" {
  cmd = "exec ./api --listen :$PORT_HTTP --admin :$PORT_ADMIN"

  port "http" {}
  port "admin" {}
}

app "db" {
  cmd = "exec ./db"

  container {
    docker {
      image   = "cassandra:4"
      network = "BRIDGE"

      port_mapping {
        container_port = 9042
        name           = "cql"
      }
    }
  }
}
