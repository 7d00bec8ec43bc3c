"""Kubernetes engine provider: kvmesh deployments as Kubernetes Deployments + Services, pods as replica rows.

`workloads.KubernetesWorkloads` makes the cluster match the deployments table (create, scale, delete);
`pod_watch.PodWatcher` keeps the replica rows the Gateway reads exact from a pod list + watch.
"""
