app "api" {
  cmd = "exec ./api"

  constraint {
    attribute = "hostname"
    operator  = "UNIQ"
  }

  constraints = [["rack_id", "LIKE"], ["rack_id", "GROUP_BY", "two"]]

  constraint {
    attribute = "zone"
    operator  = "MAX_PER"
  }
}
