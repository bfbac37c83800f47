{
  "targets": [
    {
      "target_name": "pier_sys",
      "sources": ["pier_sys.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
