app "api" {
  cmd = format("%1000000000d", 1)
}
