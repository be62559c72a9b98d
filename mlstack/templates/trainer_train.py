"""A starting point for training: reports the device, logs a run to MLflow when it is there."""

import os

import torch


def main() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"torch {torch.__version__}, device {device}, data in {os.environ.get('DATA_DIR')}")
    if os.environ.get("MLFLOW_TRACKING_URI"):
        import mlflow

        with mlflow.start_run(run_name="trainer-smoke"):
            mlflow.log_param("device", device)


if __name__ == "__main__":
    main()
