"""The inference contracts ``forgeml serve`` speaks besides its own routes.

- :mod:`~forgeml.serve.protocols.oip`: the Open Inference Protocol (KServe V2 REST);
- :mod:`~forgeml.serve.protocols.mlflow`: MLflow's scoring protocol (``POST /invocations``);
- :mod:`~forgeml.serve.protocols.profiles`: what SageMaker, Vertex AI and Azure ML expect of
  a container (port, routes, payload limits, model location);
- :mod:`~forgeml.serve.protocols.routes`: the server's handlers for all of them.

Each adapter turns its payload into one array per input column and hands it to the same
checks, scorer, canary, prediction log and shadow as ``POST /predict``; no DataFrame is
built per request.
"""
