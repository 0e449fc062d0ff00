stride {
  scope = "/shop"
}
