// The bundle Salesforce loads from the contact center's adapter URL (public/index.html), built with webpack
// as the base package and Salesforce's demo connector are. Run: npm run build -> public/main.bundle.js
const path = require('node:path');

module.exports = {
    mode: 'production',
    devtool: 'source-map',
    entry: { main: './src/main.js' },
    output: { path: path.resolve(__dirname, 'public'), filename: '[name].bundle.js' }
};
