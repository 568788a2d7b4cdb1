#!/bin/bash
# Cluster init script: Microsoft ODBC Driver 18 for SQL Server (msodbcsql18) from Microsoft's apt
# repository, for mssql / azure_sql sources read through pyodbc. Runs on every node as root before
# Spark starts; a failure here fails the cluster start (see the cluster's init script logs).
# Not needed when the sources use the mssql-python driver, which bundles its own driver.
set -euo pipefail

if odbcinst -q -d -n "ODBC Driver 18 for SQL Server" >/dev/null 2>&1; then
  echo "ODBC Driver 18 for SQL Server is already installed"
  exit 0
fi

. /etc/os-release  # Databricks Runtime 13+ is Ubuntu (e.g. 22.04 for DBR 15.4)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq curl gnupg ca-certificates
curl -fsSL https://packages.microsoft.com/keys/microsoft.asc | gpg --dearmor --yes -o /usr/share/keyrings/microsoft-prod.gpg
curl -fsSL "https://packages.microsoft.com/config/${ID}/${VERSION_ID}/prod.list" \
  -o /etc/apt/sources.list.d/mssql-release.list
apt-get update -qq
ACCEPT_EULA=Y apt-get install -y -qq msodbcsql18 unixodbc
odbcinst -q -d -n "ODBC Driver 18 for SQL Server"
echo "Installed ODBC Driver 18 for SQL Server"
