app "api" {
  cmd = join(",", [for a in range(1000) : join(",", [for b in range(1000) : "${a}-${b}"])])
}
