# A group is declared once, in one place: no merging across files.
group "shop" {
  app "db" {
    cmd = "exec ./db"
  }
}
