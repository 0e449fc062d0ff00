# Constraint blocks and the constraints attribute combine in source order.
app "api" {
  cmd = "exec ./api"

  constraint {
    attribute = "hostname"
    operator  = "UNIQUE"
  }

  constraints = [
    ["rack_id", "GROUP_BY", "3"],
    ["hostname", "LIKE", "srv[0-9]+"],
  ]

  constraint {
    attribute = "zone"
    operator  = "MAX_PER"
    value     = 2
  }

  constraint {
    attribute = "os"
    operator  = "IS"
    value     = "linux"
  }
}

app "db" {
  cmd         = "exec ./db"
  constraints = [["hostname", "CLUSTER", "db1.example.com"], ["rack_id", "UNLIKE", "r9"]]
}
