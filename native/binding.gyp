{
  "targets": [
    {
      "target_name": "reprobook_kernels",
      "sources": ["src/kernels.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas"]
    }
  ]
}
