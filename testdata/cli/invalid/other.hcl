app "x" {
  cmd = "echo ${var.missing}"
}
