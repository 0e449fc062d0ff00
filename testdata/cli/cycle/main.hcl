app "a" {
  cmd        = "sleep 1000"
  depends_on = ["b"]
}

app "b" {
  cmd        = "sleep 1000"
  depends_on = ["c"]
}

app "c" {
  cmd        = "sleep 1000"
  depends_on = ["a"]
}
