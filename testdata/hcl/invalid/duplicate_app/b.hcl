group "shop2" {
}

app "web" {
  cmd = "exec ./web"
}

app "web" {
  cmd = "exec ./web2"
}
